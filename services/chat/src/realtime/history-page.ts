import { ErrorCode } from "@sala/protocol";
import { AppError } from "../errors.js";
import { oldestKept, type HistoryCap, type HistoryQuery } from "../stores/types.js";

/** Messages in a page when the client does not say. */
const DEFAULT_PAGE = 100;

/**
 * The stored-history query of a `history` or `conversation_history` request: after a seq
 * (backfill) or before one (paging back), never both, and nothing past the age cap.
 */
export function pageQuery(paging: { afterSeq?: number; beforeSeq?: number; limit?: number }, cap: HistoryCap, now = Date.now()): HistoryQuery {
  const { afterSeq, beforeSeq, limit } = paging;
  if (afterSeq !== undefined && beforeSeq !== undefined) {
    throw new AppError(ErrorCode.BAD_REQUEST, "Give afterSeq or beforeSeq, not both");
  }
  return { afterSeq, beforeSeq, limit: limit ?? DEFAULT_PAGE, notBefore: oldestKept(cap, now) };
}
