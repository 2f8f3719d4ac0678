/** Room ids derived from what a room is for, shared by the rooms that look each other up. */

/** The room id of a session's room (src/rooms/session.room.ts). */
export const sessionRoomId = (sessionId: string) => `session_${sessionId}`;
