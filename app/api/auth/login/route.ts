// POST /api/auth/login {name, password}: rate-limited (server/auth/loginRateLimit.ts), one
// generic message for every wrong combination. Public, so exempt from the CSRF token (there
// is no session yet) but not from the Origin check, which stops login CSRF.
import { z } from "zod";
import { CLIENT_ADDRESS_HEADER } from "@/server/auth/loginRateLimit";
import { login } from "@/server/auth/login";
import { MAX_PASSWORD_LENGTH } from "@/server/auth/passwords";
import { isHttpsRequest, sessionCookieHeader } from "@/server/auth/sessions";
import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";

const loginBody = z.object({
  name: z.string({ error: "enter your user name" }).trim().min(1, "enter your user name").max(64),
  password: z.string({ error: "enter your password" }).min(1, "enter your password").max(MAX_PASSWORD_LENGTH),
});

export const POST = api({ role: "public", body: loginBody, maxBodyBytes: 4096 }, async ({ body, request }) => {
  const { prisma, redis, queues } = getRuntime();
  const { user, session } = await login(prisma, redis, {
    namespace: queues.namespace,
    name: body.name,
    password: body.password,
    address: request.headers.get(CLIENT_ADDRESS_HEADER),
    userAgent: request.headers.get("user-agent"),
  });
  return Response.json(
    { user, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() },
    {
      headers: {
        "set-cookie": sessionCookieHeader(session.token, { secure: isHttpsRequest(request) }),
        "cache-control": "no-store",
      },
    },
  );
});
