"use client";

import { useState, type FormEvent } from "react";
import { apiFetch, isApiError, resetCsrfToken } from "@/components/http/apiFetch";

export function LoginForm({ next }: { next: string }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    setFieldErrors({});
    try {
      await apiFetch("/api/auth/login", {
        method: "POST",
        body: { name, password },
        csrf: false,
        redirectOnUnauthenticated: false,
      });
      resetCsrfToken();
      // A full load: the layout renders the new session's user, navigation and CSRF token.
      window.location.assign(next);
    } catch (err) {
      setPending(false);
      setPassword("");
      if (isApiError(err)) {
        setFieldErrors(err.fieldErrors);
        setError(err.errors.length > 0 ? null : err.message);
      } else {
        setError(err instanceof Error ? err.message : String(err));
      }
    }
  };

  return (
    <section className="panel login" aria-labelledby="login-title">
      <h1 id="login-title" className="page-title">
        Sign in to Cohort
      </h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <label className="field">
          <span>User name</span>
          <input
            name="name"
            autoComplete="username"
            autoCapitalize="none"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            autoFocus
          />
          {fieldErrors.name && <span className="field-error">{fieldErrors.name}</span>}
        </label>
        <label className="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
          {fieldErrors.password && <span className="field-error">{fieldErrors.password}</span>}
        </label>
        {error && (
          <p className="alert" role="alert" data-testid="login-error">
            {error}
          </p>
        )}
        <button type="submit" className="button" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
