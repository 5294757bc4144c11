/* The page's fixed elements and small DOM helpers. Server text is never parsed as HTML: every
   string goes into the page as a text node, and elements are built with createElement. */

const $ = (id) => document.getElementById(id);

export const page = {
  chatView: $("chatView"),
  browseView: $("browseView"),
  browseBody: $("browseBody"),
  browseHeading: $("browseHeading"),
  chatTab: $("chatTab"),
  browseTab: $("browseTab"),
  intro: $("intro"),
  log: $("chatLog"),
  form: $("askForm"),
  question: $("question"),
  send: $("sendButton"),
  newConversation: $("newConversation"),
  announcer: $("announcer"),
  sheet: $("sheet"),
  sheetKicker: $("sheetKicker"),
  sheetTitle: $("sheetTitle"),
  sheetBody: $("sheetBody"),
  sheetClose: $("sheetClose"),
};

const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

let uid = 0;

/** el("p", {class: "x"}, "text", child) - attributes are set with setAttribute, text as nodes. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "hidden") node.hidden = Boolean(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A page-unique id: feedback-form labels and failure titles need their own. */
export function nextId(prefix) {
  uid += 1;
  return `${prefix}${uid}`;
}

export function announce(text) {
  page.announcer.textContent = "";
  window.setTimeout(() => { page.announcer.textContent = text; }, 50);
}

function formatDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso || ""));
  if (!match) return String(iso || "");
  return `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]} ${match[1]}`;
}

export function dateElement(iso) {
  return el("time", { datetime: iso }, formatDate(iso));
}

export function externalLink(url, text, className) {
  return el(
    "a",
    { href: url, target: "_blank", rel: "noopener", class: className },
    text,
    el("span", { class: "visually-hidden" }, " (opens in a new tab)"),
  );
}

export function safeUrl(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

export function docHref(docId, anchor) {
  return `#browse/${docId}` + (anchor ? `~${anchor}` : "");
}

/** A definition list and a function that adds one fact (a name and its value) to it. */
export function factList() {
  const facts = el("dl", { class: "facts" });
  const fact = (name, ...value) => facts.append(el("div", {}, el("dt", {}, name), el("dd", {}, ...value)));
  return [facts, fact];
}

export function icon(kind) {
  // Drawn for Nurture: a simple thumb. "down" is the same shape turned over.
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", "icon");
  const group = document.createElementNS(ns, "g");
  if (kind === "down") group.setAttribute("transform", "rotate(180 12 12)");
  const cuff = document.createElementNS(ns, "rect");
  for (const [k, v] of Object.entries({ x: 2, y: 10, width: 4, height: 11, rx: 1 })) {
    cuff.setAttribute(k, v);
  }
  const hand = document.createElementNS(ns, "path");
  hand.setAttribute(
    "d",
    "M8 10 L11.6 3.2 C13.2 3 14.6 4.2 14.1 6.1 L13.3 9 H19.4 C20.9 9 21.9 10.4 21.5 11.8 " +
      "L19.4 19.2 C19.1 20.3 18.1 21 17 21 H8 Z",
  );
  group.append(cuff, hand);
  svg.append(group);
  return svg;
}
