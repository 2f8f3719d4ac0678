/**
 * Small encode buffers for rooms whose state is a few short fields (session rooms).
 *
 * Colyseus gives every room with a schema state two 16 KB encode buffers (the serializer's full
 * state buffer and its encoder's patch buffer, both `Encoder.BUFFER_SIZE`). For a room per online
 * session that was 32 KB of the 61 KB a heap snapshot counted per idle session (loadtest/idle.ts).
 * Both buffers are sized when the state is assigned, from the static `Encoder.BUFFER_SIZE`, so the
 * assignment runs with a smaller size; a state that outgrows it is still encoded (the encoder grows
 * its buffer, with a console warning).
 */
import { Encoder } from '@colyseus/schema';

/** Runs `assign` (a synchronous `this.state = …`) with encode buffers of `bytes` bytes. */
export function withEncodeBuffers(bytes: number, assign: () => void): void {
  const saved = Encoder.BUFFER_SIZE;
  Encoder.BUFFER_SIZE = bytes;
  try {
    assign();
  } finally {
    Encoder.BUFFER_SIZE = saved;
  }
}
