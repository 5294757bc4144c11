/* "Did this answer help?": a thumb, saved straight away, then an optional comment that updates
   the same record (POST /v1/feedback). */

import { el, icon, nextId } from "./dom.js";
import { FAILURES, failureBlock } from "./failures.js";
import { httpFailure } from "./stream.js";

const SAVED = "Thank you, saved. You can add a comment below if you like.";
const THANKS = "Thank you. Your feedback helps us improve Nurture.";

async function sendFeedback(body) {
  const response = await fetch("/v1/feedback", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await httpFailure(response);
}

export function feedbackBlock(answerId) {
  const questionId = nextId("feedbackQ");
  const commentId = nextId("feedbackComment");
  const hintId = nextId("feedbackHint");
  const thumb = (rating, label, text) => el(
    "button",
    { type: "button", class: "thumb", "aria-pressed": "false", "data-rating": rating, "aria-label": label },
    icon(rating),
    el("span", { "aria-hidden": "true" }, text),
  );
  const up = thumb("up", "Yes, this answer helped", "Yes");
  const down = thumb("down", "No, this answer didn't help", "No");
  const comment = el("textarea", { id: commentId, rows: 3, maxlength: 2000, "aria-describedby": hintId });
  const submit = el("button", { type: "submit", class: "primary" }, "Send feedback");
  const form = el(
    "form",
    { class: "feedback-form", hidden: true },
    el("label", { for: commentId }, "Anything you'd like to add? (optional)"),
    comment,
    el("p", { class: "hint", id: hintId }, "Please don't include names or anything that could identify a child or family."),
    submit,
  );
  const status = el("p", { class: "feedback-status", role: "status" });
  const failure = el("div", { class: "feedback-failure" });
  const block = el(
    "div",
    { class: "feedback", role: "group", "aria-labelledby": questionId },
    el("div", { class: "feedback-row" }, el("p", { class: "feedback-question", id: questionId }, "Did this answer help?"), up, down),
    form,
    status,
    failure,
  );
  let rating = null;

  async function save(withComment) {
    const body = { answer_id: answerId, rating };
    if (withComment && comment.value.trim()) body.comment = comment.value.trim();
    try {
      await sendFeedback(body);
      failure.replaceChildren();
      return true;
    } catch (error) {
      // Any failure, with the emergency numbers (the service may be down for answers too).
      status.textContent = "";
      failure.replaceChildren(failureBlock({ ...FAILURES.feedback_unsaved, reference: error.detail && error.detail.request_id }));
      return false;
    }
  }

  for (const button of [up, down]) {
    button.addEventListener("click", async () => {
      if (block.dataset.sent) return;
      rating = button.dataset.rating;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      status.classList.remove("thanks");
      if (await save(false)) {
        block.dataset.rated = "true";
        status.textContent = SAVED;
      }
      form.hidden = false;
      comment.focus();
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!rating || block.dataset.sent) return;
    submit.disabled = true;
    status.textContent = "";
    if (await save(true)) {
      block.dataset.sent = "true";
      form.hidden = true;
      for (const button of [up, down]) button.setAttribute("aria-disabled", "true");
      status.textContent = THANKS;
      status.classList.add("thanks");
    } else {
      submit.disabled = false;
    }
  });
  return block;
}
