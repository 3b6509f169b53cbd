/** Issue 21, item 3 (safe links) and 2 (mentions highlighted): how a message's text is split for the page. */
import { describe, expect, it } from "vitest";
import { messageParts } from "../src/lib/message-parts.js";

const joined = (text: string, me = "ana") => messageParts(text, me).map((part) => part.text).join("");

describe("messageParts", () => {
  it("makes http, https, www and e-mail addresses links, and gives back the text exactly", () => {
    const text = "see https://example.com/a?b=1, www.example.com and mail bob@example.org.";
    expect(messageParts(text, "ana")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
      { kind: "text", text: ", " },
      { kind: "link", text: "www.example.com", href: "http://www.example.com/" },
      { kind: "text", text: " and mail " },
      { kind: "link", text: "bob@example.org", href: "mailto:bob@example.org" },
      { kind: "text", text: "." },
    ]);
    expect(joined(text)).toBe(text);
  });

  it("never makes a javascript:, data: or vbscript: link", () => {
    for (const text of ["javascript:alert(1)", "JaVaScRiPt:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "<a href='javascript:x'>x</a>"]) {
      const parts = messageParts(text, "ana");
      expect(parts.filter((part) => part.kind === "link")).toEqual([]);
      expect(joined(text)).toBe(text);
    }
  });

  it("sets the user's @mentions apart, not longer names nor addresses", () => {
    expect(messageParts("hi @Ana, and @anabel", "ana")).toEqual([
      { kind: "text", text: "hi " },
      { kind: "mention", text: "@Ana" },
      { kind: "text", text: ", and @anabel" },
    ]);
    expect(messageParts("write to x@ana", "ana")).toEqual([{ kind: "text", text: "write to x@ana" }]);
    expect(messageParts("@bob hi", "ana")).toEqual([{ kind: "text", text: "@bob hi" }]);
  });
});
