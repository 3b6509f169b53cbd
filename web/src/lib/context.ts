import { getContext, setContext } from "svelte";
import type { Chat } from "./chat.svelte.js";

const KEY = Symbol("chat");

/** The chat of the logged-in user, shared with every component below ChatApp. */
export function provideChat(chat: Chat): void {
  setContext(KEY, chat);
}

export function useChat(): Chat {
  return getContext<Chat>(KEY);
}
