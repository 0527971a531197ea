// POST /api/auth/logout: ends this session on the server (not just in the browser) and
// clears the cookie. Live sockets of the session close at the next re-check.
import { clearedSessionCookieHeader, isHttpsRequest, revokeSession } from "@/server/auth/sessions";
import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";

export const POST = api({ role: "viewer" }, async ({ session, request }) => {
  await revokeSession(getRuntime().prisma, session.tokenHash);
  return Response.json(
    { ok: true },
    {
      headers: {
        "set-cookie": clearedSessionCookieHeader({ secure: isHttpsRequest(request) }),
        "cache-control": "no-store",
      },
    },
  );
});
