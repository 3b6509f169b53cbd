/** The HttpPost of accounts.ts for Node: fetch. */
import { cookiePair, type HttpPost } from "./accounts.js";

export const nodeHttpPost: HttpPost = async (url, body, headers) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer(); // drain the body so the connection is reused
  return { status: response.status, cookie: cookiePair(response.headers.get("set-cookie")) };
};
