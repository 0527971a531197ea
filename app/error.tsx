"use client";
// What a page shows when its server code fails (the coordinator database or Redis is
// unreachable, an internal error): a readable message and a retry, instead of Next's bare
// error page. Production builds hide the error's text from the browser; its digest is the
// key to the full error in the console's log.
import { useEffect } from "react";

export default function PageError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => console.error(error), [error]);
  return (
    <section className="panel stack" role="alert" data-testid="page-error">
      <h1 className="page-title">This page could not be loaded</h1>
      <p>
        The console could not read what this page shows: the coordinator database or Redis may be unreachable, or the server hit
        an internal error. Nothing was changed.
      </p>
      {error.digest && (
        <p className="muted">
          Error reference <span className="mono">{error.digest}</span>: the console&apos;s log has the full error under it.
        </p>
      )}
      <div>
        <button type="button" className="button" onClick={() => reset()}>
          Try again
        </button>
      </div>
    </section>
  );
}
