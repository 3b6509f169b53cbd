import { ErrorCode, Limits, ROOM_NAME_PATTERN, USERNAME_PATTERN } from "@sala/protocol";
import { AppError } from "../errors.js";

/** Whether `name` could be a registered username (the rules checkUsername enforces). */
export function isUsername(name: string): boolean {
  return name.length >= Limits.usernameMin && name.length <= Limits.usernameMax && USERNAME_PATTERN.test(name);
}

/** Returns the username as it will be stored, or throws INVALID_USERNAME saying why. */
export function checkUsername(raw: string): string {
  const username = raw.trim();
  if (username.length < Limits.usernameMin || username.length > Limits.usernameMax) {
    throw new AppError(
      ErrorCode.INVALID_USERNAME,
      `A username has ${Limits.usernameMin} to ${Limits.usernameMax} characters`,
    );
  }
  if (!USERNAME_PATTERN.test(username)) {
    throw new AppError(
      ErrorCode.INVALID_USERNAME,
      "A username uses letters, digits, '_', '.' and '-', and starts with a letter or digit",
    );
  }
  return username;
}

/** A room password is a shared secret: only its length is checked (account passwords: password-policy.ts). */
export function checkRoomPassword(password: string): void {
  if (password.length < Limits.roomPasswordMin || password.length > Limits.roomPasswordMax) {
    throw new AppError(
      ErrorCode.WEAK_PASSWORD,
      `A room password has ${Limits.roomPasswordMin} to ${Limits.roomPasswordMax} characters`,
    );
  }
}

/** Returns the room name as it will be stored (NFC, trimmed, inner spaces collapsed) or throws. */
export function checkRoomName(raw: string): string {
  const name = raw.normalize("NFC").trim().replace(/\s+/g, " ");
  if (name.length < Limits.roomNameMin || name.length > Limits.roomNameMax) {
    throw new AppError(
      ErrorCode.INVALID_ROOM_NAME,
      `A room name has ${Limits.roomNameMin} to ${Limits.roomNameMax} characters`,
    );
  }
  if (!ROOM_NAME_PATTERN.test(name)) {
    throw new AppError(
      ErrorCode.INVALID_ROOM_NAME,
      "A room name uses letters, digits, spaces, '_', '.' and '-', and starts with a letter or digit",
    );
  }
  return name;
}
