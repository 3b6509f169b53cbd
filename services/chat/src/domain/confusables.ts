/**
 * Names that look alike: a new user or room name must not be visually confusable with an existing
 * one (`аna` in Cyrillic, fullwidth `ａｎａ`, `rn` for `m`), or anyone could impersonate a user or a
 * room. Uniqueness is kept on a *confusable key* by the stores, in the same atomic step that claims
 * the name (stores/{memory,redis}/users.ts and rooms.ts).
 */
import unhomoglyph from "unhomoglyph";
import { ErrorCode } from "@sala/protocol";
import { AppError } from "../errors.js";

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * The UTS #39 skeleton: NFD, default-ignorable code points removed, every character replaced by
 * its prototype from Unicode's confusables.txt (the mapping unhomoglyph ships), NFD again.
 */
function skeleton(text: string): string {
  return unhomoglyph(text.normalize("NFD").replace(IGNORABLE, "")).normalize("NFD");
}

/**
 * The look-alike identity of a name: two names with the same key can be mistaken for each other.
 * NFKC first (fullwidth and compatibility forms, ligatures), then skeleton, lower case, skeleton
 * again. Names are case-insensitive, so the key is too; folding between two skeleton passes
 * catches look-alikes in either case: Cyrillic `аna` and Greek capitals `ΑΝΑ` (whose lower case,
 * `ανα`, no longer looks like `ana`), capital `I` for `l`, `0` for `O`.
 */
export function confusableKey(name: string): string {
  return skeleton(skeleton(name.normalize("NFKC")).toLowerCase());
}

/** Registration or room creation: the name looks like `existing`, which someone already has. */
export class NameConfusableError extends AppError {
  constructor(
    kind: "user" | "room",
    readonly existing: string,
  ) {
    super(ErrorCode.NAME_CONFUSABLE, `That name looks too much like the existing ${kind} "${existing}"`);
    this.name = "NameConfusableError";
  }
}
