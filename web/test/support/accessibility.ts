/**
 * axe-core run inside a real page (issue 21, item 6): WCAG 2.0/2.1 A and AA rules plus axe's
 * best practices. A serious or critical violation fails the test with a list a person can act on
 * (rule, impact, where, how to fix); minor and moderate ones are returned and logged, not failed,
 * so they stay visible without blocking.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Result } from "axe-core";
import type { Page } from "playwright-core";

const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
const FAILING = new Set(["serious", "critical"]);
/** Targets listed per rule: enough to find the element, short enough to read. */
const TARGETS_SHOWN = 3;

/** One rule's violation on one view, as a line of text. */
export interface Finding {
  view: string;
  rule: string;
  impact: string;
  line: string;
}

function describe(view: string, violation: Result): Finding {
  const impact = violation.impact ?? "unknown";
  const targets = violation.nodes.slice(0, TARGETS_SHOWN).map((node) => node.target.join(" >> "));
  const more = violation.nodes.length > TARGETS_SHOWN ? ` (+${violation.nodes.length - TARGETS_SHOWN} more)` : "";
  // The first element's summary says what is wrong with it (e.g. the measured contrast ratio).
  const summary = violation.nodes[0]?.failureSummary?.replace(/\s+/g, " ").trim() ?? "";
  const line = `[${impact}] ${violation.id} on ${view}: ${violation.help}\n    at ${targets.join(" | ")}${more}\n    ${summary}\n    ${violation.helpUrl}`;
  return { view, rule: violation.id, impact, line };
}

/**
 * Checks the page as it is now (the caller has it showing `view`, settled). Throws, listing them,
 * when a violation is serious or critical; answers the minor and moderate ones.
 */
export async function expectAccessible(page: Page, view: string): Promise<Finding[]> {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  // No rule passed: axe looked at nothing (an empty or unloaded page), which proves nothing.
  if (results.passes.length === 0) throw new Error(`axe checked nothing on ${view} (${page.url()})`);
  const findings = results.violations.map((violation) => describe(view, violation));
  const failing = findings.filter((finding) => FAILING.has(finding.impact));
  const tolerated = findings.filter((finding) => !FAILING.has(finding.impact));
  if (tolerated.length > 0) console.info(`axe, not failing (minor/moderate):\n${tolerated.map((finding) => finding.line).join("\n")}`);
  if (failing.length > 0) {
    throw new Error(`axe found ${failing.length} serious or critical violation(s) on ${view}:\n${failing.map((finding) => finding.line).join("\n")}`);
  }
  return tolerated;
}
