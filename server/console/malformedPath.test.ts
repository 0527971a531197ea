import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerMalformedPath, undecodableSegment } from "./malformedPath";

describe("paths that are not valid percent-encoding", () => {
  it("are found segment by segment; the query is not the path's business", () => {
    expect(undecodableSegment("/transactions/%FF")).toBe("%FF");
    expect(undecodableSegment("/api/locks/%ED%A0%80?x=1")).toBe("%ED%A0%80");
    expect(undecodableSegment("/api/users/%")).toBe("%");
    expect(undecodableSegment("/transactions/%E2%9C%93")).toBeNull();
    expect(undecodableSegment("/queues?stream=%FF")).toBeNull();
    expect(undecodableSegment("/")).toBeNull();
  });

  describe("on a server", () => {
    let server: http.Server;
    let base: string;
    beforeAll(async () => {
      // What Next.js's router does with such a segment: decode it, and fail.
      server = http.createServer((req, res) => {
        if (answerMalformedPath(req, res)) return;
        try {
          decodeURIComponent(req.url ?? "");
          res.end("ok");
        } catch {
          res.statusCode = 500;
          res.end("Internal Server Error");
        }
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("answers the API with a 400 problem", async () => {
      for (const path of ["/api/transactions/%FF", "/api/locks/%ED%A0%80", "/api/users/%FF/x"]) {
        const response = await fetch(`${base}${path}`);
        expect(response.status).toBe(400);
        expect(response.headers.get("content-type")).toBe("application/problem+json");
        expect(await response.json()).toMatchObject({ status: 400, code: "BAD_REQUEST" });
      }
    });

    it("answers pages with a readable 400 page, escaping what it quotes", async () => {
      const response = await fetch(`${base}/transactions/%FF%3Cscript%3E`);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      const page = await response.text();
      expect(page).toContain("This address is not valid");
      expect(page).not.toContain("<script>");
    });

    it("passes everything else through", async () => {
      expect((await fetch(`${base}/transactions/%E2%9C%93`)).status).toBe(200);
    });
  });
});
