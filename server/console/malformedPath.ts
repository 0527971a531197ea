// Next.js's router decodes every dynamic path segment and answers a plain-text 500 when one is
// not valid percent-encoding (`%FF`, or `%ED%A0%80`, a UTF-8-encoded surrogate). Such a URL is
// the client's mistake: it is answered here, before Next.js sees it, with a 400 that says so,
// problem+json for the API (DESIGN.md §7) and a readable page for everything else.
import type http from "node:http";
import { CohortError } from "../errors";
import { problemResponse } from "../http/problem";

/** The first path segment that does not decode, or null when the whole path does. */
export function undecodableSegment(url: string): string | null {
  const path = url.split(/[?#]/, 1)[0] ?? "";
  for (const segment of path.split("/")) {
    try {
      decodeURIComponent(segment);
    } catch {
      return segment;
    }
  }
  return null;
}

/** Answers a request whose path cannot be decoded; false (and nothing sent) for any other. */
export function answerMalformedPath(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const segment = undecodableSegment(req.url ?? "/");
  if (segment === null) return false;
  const shown = segment.slice(0, 80);
  const path = (req.url ?? "/").split(/[?#]/, 1)[0]!;
  if (path === "/api" || path.startsWith("/api/")) {
    const refusal = new CohortError("BAD_REQUEST", `the path segment "${shown}" is not valid percent-encoding (UTF-8)`, {
      details: { errors: [{ in: "params", field: "", detail: `"${shown}" is not valid percent-encoding` }] },
    });
    const response = problemResponse(refusal, `${req.method ?? "GET"} ${path.slice(0, 200)}`);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    void response.text().then((body) => res.end(body));
    return true;
  }
  res.writeHead(400, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(badPathPage(shown));
  return true;
}

function badPathPage(segment: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Bad address · Cohort</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:4rem auto;max-width:36rem;padding:0 1rem;color:#1f2933}code{background:#eef1f4;padding:0 .25rem}</style>
</head>
<body>
<h1>This address is not valid</h1>
<p>The part <code>${escapeHtml(segment)}</code> of the address is not valid percent-encoding, so the console cannot read it.
The link may have been cut or altered.</p>
<p><a href="/">Go to the overview</a></p>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
