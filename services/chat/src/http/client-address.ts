import type { IncomingMessage } from "node:http";
// Fastify's own resolver (fastify depends on it): a socket handshake's client address is then
// derived by exactly the rules that give HTTP routes `request.ip`.
import proxyAddr from "@fastify/proxy-addr";
import ipaddr from "ipaddr.js";
import type { Config } from "../config.js";

type TrustProxy = Config["trustProxy"];
export type ProxyTrust = (address: string, hop: number) => boolean;

/** Trust the first `hops` proxies in front of the node (TRUST_PROXY=<number>). */
export const hopsTrusted = (hops: number): ProxyTrust => (_address, hop) => hop < hops;

/**
 * TRUST_PROXY as a trust function, as Fastify builds it from what app.ts gives it (a hop count
 * goes through hopsTrusted there too).
 */
export function proxyTrust(trust: TrustProxy): ProxyTrust {
  if (trust === false) return () => false;
  if (trust === true) return () => true;
  if (typeof trust === "number") return hopsTrusted(trust);
  return proxyAddr.compile(trust);
}

/**
 * The client's address for a request that Fastify never sees (a Socket.IO handshake): the peer,
 * or the X-Forwarded-For entry the trusted proxies vouch for, like Fastify's `request.ip`.
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  return proxyAddr.all(req, trust).at(-1) ?? "unknown";
}

/**
 * The key that per-address limits count under (login and registration throttles, the socket cap).
 * An IPv4 address is itself (an IPv4-mapped IPv6 address too). An IPv6 address counts as its /64:
 * one subscriber usually holds a whole /64, so per-address limits keyed by the full address would
 * give one host 2^64 fresh addresses to spread guesses over.
 */
export function addressKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts.slice(0, 4).map((part) => part.toString(16)).join(":")}::/64`;
}
