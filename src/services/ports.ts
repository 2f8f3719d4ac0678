/** Small interfaces the services need from the outside, implemented elsewhere and injected. */

/** Hashes and checks passwords (implemented with argon2 in src/auth). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}
