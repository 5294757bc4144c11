/* Server-Sent Events over fetch (POST /v1/ask/stream sends start, delta..., done or error),
   and the error body of a reply that is not OK. */

function parseEvent(raw) {
  let event = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/** The events of a streamed response, as {event, data} with data still a string. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) yield event;
      end = buffer.indexOf("\n\n");
    }
  }
  const last = parseEvent(buffer.trim());
  if (last) yield last;
}

/** The API's error ({type, message, request_id, fields}), or one made up for a reply that is
    not our JSON (a proxy's error page, say). */
export async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch {
    // not JSON: a proxy's error page, say
  }
  return { type: "http_error", message: `HTTP ${response.status}`, request_id: "", fields: [] };
}

/** A failed reply as an Error carrying its status, its error body and its Retry-After. */
export async function httpFailure(response) {
  const error = await errorOf(response);
  const failure = new Error(error.message);
  failure.status = response.status;
  failure.detail = error;
  failure.retryAfter = response.headers.get("Retry-After");
  return failure;
}
