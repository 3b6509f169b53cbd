/**
 * Reading the /memory page as a person does: open it, then read the nodes table and the charts'
 * text alternatives from the DOM (never from the API).
 */
import type { Page, Response } from "playwright-core";
import type { ChildNode } from "../../../services/chat/test/support/child-node.js";

/** Opens /memory on `node` and waits until its feed is connected; returns the page's response. */
export async function openMemoryPage(page: Page, node: ChildNode): Promise<Response | null> {
  const response = await page.goto(`${node.url}/memory`);
  await page.getByRole("heading", { level: 1, name: "Cluster health" }).waitFor();
  await page.locator('[data-testid="connection"][data-state="connected"]').waitFor();
  return response;
}

/** The node ids of the table's rows, in the table's order. */
export const tableNodes = (page: Page) =>
  page.locator('[data-testid="nodes-table"] tbody tr[data-node]').evaluateAll((rows) => rows.map((row) => row.getAttribute("data-node")));

/** One row of the nodes table, as numbers (English column headers). */
export interface NodeRow {
  rssMb: number;
  heapMb: number;
  sockets: number;
  rooms: number;
  messagesInPerSec: number;
  deliveriesPerSec: number;
}

const COLUMNS: Record<keyof NodeRow, string> = {
  rssMb: "RSS (MB)",
  heapMb: "Heap (MB)",
  sockets: "Sockets",
  rooms: "Rooms",
  messagesInPerSec: "Messages in/s",
  deliveriesPerSec: "Deliveries/s",
};

/** "1,234.5" (the page formats for en-US) → 1234.5. */
const parseNumber = (text: string) => Number(text.replace(/,/g, ""));

/** Every row of the nodes table as the page shows it now, by node id (cells found by their column's header). */
export async function readNodesTable(page: Page): Promise<Record<string, NodeRow>> {
  const cells = await page.locator('[data-testid="nodes-table"]').evaluate((table) => {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent?.trim() ?? "");
    return [...table.querySelectorAll("tbody tr[data-node]")].map((row) => ({
      node: row.getAttribute("data-node") ?? "",
      byHeader: Object.fromEntries([...row.children].map((cell, i) => [headers[i] ?? "", cell.textContent?.trim() ?? ""])),
    }));
  });
  return Object.fromEntries(
    cells.map(({ node, byHeader }) => {
      const row = Object.fromEntries(
        Object.entries(COLUMNS).map(([key, header]) => {
          const text = byHeader[header];
          if (text === undefined) throw new Error(`the nodes table has no "${header}" column`);
          return [key, parseNumber(text)];
        }),
      ) as unknown as NodeRow;
      return [node, row];
    }),
  );
}

/** The text alternative of one chart (`memory`, `cpu`, `sockets`, `rates`): what it shows and every line's latest value. */
export const chartCaption = (page: Page, chart: string) => page.locator(`figure[data-chart="${chart}"] figcaption`).innerText();

/**
 * The latest values a chart's text alternative lists, by line label ("n1 in" → 12.5), e.g. from
 * "… Latest: n1 in: 12.5/s; n1 delivered: 50/s."
 */
export function captionValues(caption: string): Record<string, number> {
  const start = caption.indexOf("Latest:");
  if (start < 0) return {};
  const latest = caption.slice(start + "Latest:".length).replace(/\.\s*$/, "");
  return Object.fromEntries(
    latest
      .split(";")
      .map((part) => /^\s*(.+):\s*([\d,.]+)/.exec(part))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!.trim(), parseNumber(match[2]!)]),
  );
}
