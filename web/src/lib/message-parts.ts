/**
 * A message's text as the page shows it: plain text, links (found by linkify-it, as markdown-it
 * does: `https://…`, `www.…`, e-mail addresses) and `@mentions` of the user, highlighted. Only
 * http, https and mailto addresses become links: nothing a message says can make a
 * `javascript:` or `data:` link. The text itself is never HTML (Svelte escapes it).
 */
import { linkifyit } from "linkify-it";
import { mentions } from "./attention.js";

export type MessagePart = { kind: "text"; text: string } | { kind: "link"; text: string; href: string } | { kind: "mention"; text: string };

// Fuzzy links ("www.example.com", "example.com") as people type them; known top-level domains only.
const linkify = linkifyit({ fuzzyLink: true });
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function safeHref(url: string): string | null {
  try {
    const parsed = new URL(url);
    return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

/** `text` in parts, in order; joined back they are `text` exactly. */
export function messageParts(text: string, me: string): MessagePart[] {
  const parts: MessagePart[] = [];
  let at = 0;
  for (const match of linkify.match(text) ?? []) {
    if (match.index > at) parts.push(...mentionParts(text.slice(at, match.index), me));
    const href = safeHref(match.url);
    parts.push(href ? { kind: "link", text: match.raw, href } : { kind: "text", text: match.raw });
    at = match.lastIndex;
  }
  if (at < text.length) parts.push(...mentionParts(text.slice(at), me));
  return parts;
}

/** Plain text with the user's `@name` set apart. */
function mentionParts(text: string, me: string): MessagePart[] {
  if (!me || !mentions(text, me)) return [{ kind: "text", text }];
  const parts: MessagePart[] = [];
  const token = new RegExp(`@${me.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")}`, "gi");
  let at = 0;
  for (const found of text.matchAll(token)) {
    const start = found.index;
    const end = start + found[0].length;
    // Only where it is a mention (not inside a longer name or an address): checked on the text around it.
    if (!mentions(text.slice(Math.max(0, start - 1), end + 2), me)) continue;
    if (start > at) parts.push({ kind: "text", text: text.slice(at, start) });
    parts.push({ kind: "mention", text: found[0] });
    at = end;
  }
  if (at < text.length) parts.push({ kind: "text", text: text.slice(at) });
  return parts;
}
