// GET /api/audit?cursor&limit&user&action&targetType&targetId&outcome: the audit trail,
// newest first, keyset-paginated (pass nextCursor back as cursor).
import { auditFilterSchema, listAudit } from "@/server/audit/audit";
import { api } from "@/server/http/api";
import { getRuntime } from "@/server/runtime";

export const GET = api({ role: "viewer", query: auditFilterSchema }, async ({ query }) => listAudit(getRuntime().prisma, query));
