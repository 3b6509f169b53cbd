/**
 * Desktop notifications, opt-in: off until the user turns them on (a click, so that the browser's
 * permission prompt comes from a gesture), remembered on this device. Only whispers to the user
 * and messages that mention them notify, and only when they are not already in view.
 */
const STORAGE_KEY = "sala.notifications";
/** Characters of the message shown in a notification. */
const BODY_MAX = 120;

export type NotifyState = "unsupported" | "off" | "on" | "denied";

class DesktopNotifications {
  state = $state<NotifyState>(initialState());

  /** Turns notifications on (asking the browser's permission, which needs a user gesture) or off. */
  async toggle(): Promise<void> {
    if (this.state === "on") return this.remember("off");
    if (typeof Notification === "undefined") return;
    const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    this.remember(permission === "granted" ? "on" : "denied");
  }

  /** Shows a notification when they are on; `open` runs when it is clicked (the page comes to the front). */
  show(title: string, body: string | null, open: () => void): void {
    if (this.state !== "on" || typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const text = body === null ? "" : body.length > BODY_MAX ? `${body.slice(0, BODY_MAX - 1)}…` : body;
    const note = new Notification(title, { body: text, tag: title });
    note.onclick = () => {
      window.focus();
      open();
      note.close();
    };
  }

  private remember(state: NotifyState): void {
    this.state = state;
    try {
      localStorage.setItem(STORAGE_KEY, state === "on" ? "on" : "off");
    } catch {
      // Blocked storage: the choice lasts for this page only.
    }
  }
}

function initialState(): NotifyState {
  if (typeof Notification === "undefined") return "unsupported";
  if (Notification.permission === "denied") return "denied";
  let chosen: string | null = null;
  try {
    chosen = localStorage.getItem(STORAGE_KEY);
  } catch {
    // As above.
  }
  return chosen === "on" && Notification.permission === "granted" ? "on" : "off";
}

export const desktopNotifications = new DesktopNotifications();
