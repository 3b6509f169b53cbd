/** A command's expected failure (unknown user, bad arguments): its message is for the operator. */
export class AdminError extends Error {
  constructor(
    message: string,
    /** `usage` for bad arguments (exit 2), `failed` otherwise (exit 1). */
    readonly kind: "usage" | "failed" = "failed",
  ) {
    super(message);
    this.name = "AdminError";
  }
}
