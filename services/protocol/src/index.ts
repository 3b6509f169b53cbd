/**
 * The wire contract without runtime dependencies: importable by the server, the web client, the
 * Node load driver and k6 scripts. The crypto envelope lives at "@sala/protocol/envelope" (it
 * needs crypto-js) and the JSON schemas at "@sala/protocol/schemas" (they need TypeBox).
 */
export * from "./errors.js";
export * from "./limits.js";
export * from "./names.js";
export * from "./events.js";
export * from "./envelope-format.js";
export * from "./conversation-id.js";
export type { RoomKey, DecryptResult } from "./envelope.js";
export type * from "./schemas.js";
export * from "./lobby-state.js";
export * from "./admin.js";
