/**
 * What an account password must not be (NIST SP 800-63B 3.1.1.2, OWASP ASVS 2.1.7): shorter than
 * 8 or longer than 128 characters, one of the passwords people pick most (the list of
 * @zxcvbn-ts/language-common: 49,233 leaked passwords by frequency), a repeated or sequential
 * pattern (`aaaaaaaa`, `abababab`, `abcdefgh`, `87654321`), or anything containing the username.
 * Room passwords are shared secrets with their own length rule only (names.ts checkRoomPassword).
 */
import { ErrorCode, Limits } from "@sala/protocol";
import { AppError } from "../errors.js";

let common: Promise<ReadonlySet<string>> | null = null;

/** The common-password list as a set of lower-case strings, loaded once (~30 ms) when first needed. */
export function commonPasswords(): Promise<ReadonlySet<string>> {
  common ??= import("@zxcvbn-ts/language-common").then(
    ({ dictionary }) => new Set(dictionary["passwords-common"].map((password) => password.toLowerCase())),
  );
  return common;
}

const weak = (message: string) => new AppError(ErrorCode.WEAK_PASSWORD, message);

/** True for `aaaaaaaa`, `abababab`, `abcabcab` (a unit of 1–4 characters, repeated) … */
function isRepetitive(chars: string[]): boolean {
  for (let unit = 1; unit <= 4; unit++) {
    if (chars.every((char, i) => char === chars[i % unit])) return true;
  }
  return false;
}

/** … and for `abcdefgh`, `12345678`, `87654321` (each character one code point from the last). */
function isSequential(chars: string[]): boolean {
  const step = chars[1]!.codePointAt(0)! - chars[0]!.codePointAt(0)!;
  if (Math.abs(step) !== 1) return false;
  return chars.every((char, i) => i === 0 || char.codePointAt(0)! - chars[i - 1]!.codePointAt(0)! === step);
}

/** Throws WEAK_PASSWORD, saying why, unless `password` may protect the account `username`. */
export async function checkAccountPassword(password: string, username: string): Promise<void> {
  if (password.length < Limits.passwordMin || password.length > Limits.passwordMax) {
    throw weak(`A password has ${Limits.passwordMin} to ${Limits.passwordMax} characters`);
  }
  const folded = password.toLowerCase();
  if (folded.includes(username.toLowerCase())) throw weak("A password must not contain your username");
  const chars = [...folded];
  if (isRepetitive(chars) || isSequential(chars)) throw weak("That password is a repeated or sequential pattern; choose a less predictable one");
  if ((await commonPasswords()).has(folded)) throw weak("That password is one of the most common ones; choose another");
}
