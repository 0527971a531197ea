// GET /api/auth/me: who is signed in, and the CSRF token the browser must echo in
// x-csrf-token on mutations (components/http/apiFetch.ts).
import { api } from "@/server/http/api";

export const GET = api({ role: "viewer" }, async ({ user, session }) => ({
  user,
  csrfToken: session.csrfToken,
  expiresAt: session.expiresAt.toISOString(),
}));
