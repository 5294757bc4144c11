/* Every failure the page can show, in one table, and the block that shows one. Each block
   carries the emergency numbers: a failed answer must never leave a worried carer without them. */

import { el, nextId } from "./dom.js";

/** Tap-to-call lines shown with every failure (999 and NHS 111 first, always). */
export const EMERGENCY_NUMBERS = [
  { href: "tel:999", label: "Call 999", text: " if a child is in danger or seriously unwell" },
  { href: "tel:111", label: "Call NHS 111", text: " for urgent health advice" },
  { href: "tel:116123", label: "Call Samaritans on 116 123", text: " if you need to talk, day or night" },
];

const NOT_WORKING = "Nurture isn't working right now";
const TRY_LATER = "Please try again in a few minutes.";

/** What the carer is told, by kind of failure. `retry` offers "Try again", `restart` offers
    "New conversation". */
export const FAILURES = {
  offline: {
    title: NOT_WORKING,
    detail: "We couldn't reach Nurture. Check your internet connection, then try again in a few minutes.",
    retry: true,
  },
  unavailable: {
    title: NOT_WORKING,
    detail: `The guidance library is not available at the moment. ${TRY_LATER}`,
    retry: true,
  },
  server: {
    title: NOT_WORKING,
    detail: `Something went wrong on our side, so there is no answer. ${TRY_LATER}`,
    retry: true,
  },
  no_access: {
    title: NOT_WORKING,
    detail: "This Nurture service needs an access key that this page does not have.",
  },
  interrupted: {
    title: NOT_WORKING,
    detail: "Something went wrong while the answer was being written, so it is not complete. Please try again.",
    retry: true,
  },
  cut_off: {
    title: NOT_WORKING,
    detail: "The answer was cut off before it was complete. Please try again.",
    retry: true,
  },
  rate_limited: {
    title: "Please wait a moment",
    detail: "You have asked a lot of questions in a short time.",
    retry: true,
  },
  conversation_ended: {
    title: "This conversation has ended",
    detail: "Nurture no longer has this conversation. Start a new conversation and ask again.",
    restart: true,
  },
  rejected: {
    title: "That question couldn't be sent",
    detail: "Please shorten or reword it and try again.",
  },
  feedback_unsaved: {
    title: "Your feedback couldn't be saved",
    detail: "Sorry, your feedback couldn't be saved just now. Please try again.",
  },
};

function waitFor(retryAfter) {
  const seconds = Number(retryAfter);
  return seconds > 0 ? ` Please wait ${seconds} seconds and try again.` : " Please wait a minute and try again.";
}

/** The failure to show for an HTTP status and the API's error body. */
export function describeFailure(status, error, retryAfter) {
  const reference = (error && error.request_id) || "";
  if (status === 429) {
    const info = FAILURES.rate_limited;
    return { ...info, detail: info.detail + waitFor(retryAfter), reference };
  }
  if (status === 404 && error && (error.fields || []).includes("conversation_id")) {
    return { ...FAILURES.conversation_ended, reference };
  }
  if (status === 401 || status === 403) return { ...FAILURES.no_access, reference };
  if (status === 413 || status === 422) {
    const info = FAILURES.rejected;
    return { ...info, detail: `${info.detail} (${error ? error.message : "invalid request"})`, reference };
  }
  if (status === 503) return { ...FAILURES.unavailable, reference };
  return { ...FAILURES.server, reference };
}

/** The emergency numbers as tap-to-call links. */
function numbersList() {
  const list = el("ul", { class: "numbers", "data-numbers": "" });
  for (const number of EMERGENCY_NUMBERS) {
    list.append(el("li", {}, el("a", { href: number.href, class: "number-link" }, number.label), number.text));
  }
  return list;
}

/** A plain failure message, always with the emergency numbers. */
export function failureBlock({ title, detail, reference, actions = [] }) {
  const titleId = nextId("failureTitle");
  const block = el(
    "div",
    { class: "failure", role: "alert", "aria-labelledby": titleId, "data-failure": "" },
    el("p", { class: "failure-title", id: titleId }, title),
  );
  if (detail) block.append(el("p", {}, detail));
  block.append(el("p", {}, "If you are worried about a child now, don't wait:"), numbersList());
  if (reference) block.append(el("p", { class: "reference" }, `Reference: ${reference}`));
  if (actions.length) block.append(el("p", { class: "failure-actions" }, ...actions));
  return block;
}
