/* Nurture's chat page: native ES modules, no build step. This module asks questions and wires
   the page together; see the other modules for each part:
     dom.js       the page's fixed elements and small DOM helpers
     markdown.js  the markdown subset, for whole texts and streamed answers
     stream.js    Server-Sent Events over fetch, error bodies
     failures.js  every failure message, in one table, always with the emergency numbers
     answer.js    one answer: safety block, streamed text, sources, failure
     feedback.js  thumbs and comments
     sheet.js     the citation sheet
     browse.js    the guidance library and the views in the URL's fragment

   Server text is never parsed as HTML: every string goes into the page as a text node. */

import { AnswerView, viewOf } from "./answer.js";
import { navigate, route } from "./browse.js";
import { announce, el, page } from "./dom.js";
import { describeFailure, FAILURES } from "./failures.js";
import { openSheet, wireSheet } from "./sheet.js";
import { errorOf, readEvents } from "./stream.js";

const state = {
  conversationId: null,
  controller: null,
  busy: false,
};

function questionBubble(text) {
  return el(
    "div",
    { class: "turn-question" },
    el("p", { class: "visually-hidden" }, "You asked:"),
    ...text.split(/\n+/).map((line) => el("p", {}, line)),
  );
}

/** Send one question and stream its answer into a new turn; returns when it is done or failed. */
async function ask(question) {
  question = question.trim();
  if (!question || state.busy) return;
  state.busy = true;
  page.send.disabled = true;
  page.intro.hidden = true;

  const turn = el("div", { class: "turn" });
  const bubble = questionBubble(question);
  const view = new AnswerView();
  turn.append(bubble, view.article);
  page.log.append(turn);
  const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  bubble.scrollIntoView({ block: "start", behavior: calm ? "auto" : "smooth" });

  const controller = new AbortController();
  state.controller = controller;
  const body = { question };
  if (state.conversationId) body.conversation_id = state.conversationId;
  const retry = () => {
    turn.remove();
    ask(question);
  };
  try {
    const response = await fetch("/v1/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      const error = await errorOf(response);
      view.fail(describeFailure(response.status, error, response.headers.get("Retry-After")), retry);
      return;
    }
    for await (const event of readEvents(response)) {
      const data = JSON.parse(event.data);
      if (event.event === "start") {
        state.conversationId = data.conversation_id || state.conversationId;
        view.start(data);
      } else if (event.event === "delta") {
        view.delta(data.text || "");
      } else if (event.event === "done") {
        state.conversationId = data.conversation_id || state.conversationId;
        view.done(data);
        return;
      } else if (event.event === "error") {
        view.fail({ ...FAILURES.interrupted, reference: data.request_id }, retry);
        return;
      }
    }
    view.fail(FAILURES.cut_off, retry);
  } catch (error) {
    if (error && error.name === "AbortError") return; // a new conversation was started
    view.fail(FAILURES.offline, retry);
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      state.busy = false;
      page.send.disabled = false;
    }
  }
}

function newConversation() {
  if (state.controller) state.controller.abort();
  state.controller = null;
  state.busy = false;
  state.conversationId = null;
  page.send.disabled = false;
  page.log.replaceChildren();
  page.intro.hidden = false;
  page.question.value = "";
  resizeQuestion();
  if (location.hash.startsWith("#browse")) navigate("#chat");
  page.question.focus();
  announce("New conversation started.");
}

function resizeQuestion() {
  page.question.style.height = "auto";
  page.question.style.height = `${Math.min(page.question.scrollHeight + 4, 220)}px`;
}

page.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = page.question.value;
  if (!text.trim()) {
    page.question.focus();
    return;
  }
  if (state.busy) return;
  page.question.value = "";
  resizeQuestion();
  ask(text);
});

page.question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    page.form.requestSubmit();
  }
});
page.question.addEventListener("input", resizeQuestion);

for (const button of document.querySelectorAll("button.example")) {
  button.addEventListener("click", () => {
    page.question.value = "";
    ask(button.textContent);
  });
}

page.newConversation.addEventListener("click", newConversation);

page.log.addEventListener("click", (event) => {
  const cite = event.target.closest("[data-cite]");
  if (cite) {
    const view = viewOf(cite);
    const citation = view && view.citations.get(Number(cite.dataset.cite));
    if (citation) openSheet(citation, cite);
    return;
  }
  const action = event.target.closest("[data-action]");
  if (action) {
    const view = viewOf(action);
    if (action.dataset.action === "retry" && view && view.retry && !state.busy) view.retry();
    if (action.dataset.action === "new") newConversation();
  }
});

wireSheet();
page.chatTab.addEventListener("click", () => navigate("#chat"));
page.browseTab.addEventListener("click", () => navigate("#browse"));
window.addEventListener("hashchange", route);

if (location.hash.startsWith("#browse")) route();
