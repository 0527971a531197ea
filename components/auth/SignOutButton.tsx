"use client";

import { useState } from "react";
import { apiFetch, isApiError, resetCsrfToken } from "@/components/http/apiFetch";

export function SignOutButton() {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const signOut = async () => {
    setPending(true);
    setError(null);
    try {
      await apiFetch("/api/auth/logout", { method: "POST", redirectOnUnauthenticated: false });
    } catch (err) {
      // 401: the session had already ended, which is what signing out wants anyway.
      if (!isApiError(err) || err.status !== 401) {
        setError(err instanceof Error ? err.message : String(err));
        setPending(false);
        return;
      }
    }
    resetCsrfToken();
    // A full load, so no page keeps showing data from the ended session.
    window.location.assign("/login");
  };

  return (
    <>
      <button type="button" className="button button-quiet" onClick={() => void signOut()} disabled={pending}>
        Sign out
      </button>
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </>
  );
}
