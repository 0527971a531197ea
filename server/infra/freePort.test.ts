import net from "node:net";
import { describe, expect, it } from "vitest";
import { ensurePortFree, freePort, listenError } from "./freePort";

describe("ensurePortFree", () => {
  it("passes for a free port and says what to do about a taken one", async () => {
    const port = await freePort();
    await ensurePortFree("127.0.0.1", port);
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(port, "127.0.0.1", r));
    try {
      await expect(ensurePortFree("127.0.0.1", port)).rejects.toThrow(
        `port ${port} on 127.0.0.1 is in use by another program (another npm start?): stop it, or choose another port with PORT=…`,
      );
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("names the variable to change for privileged ports and foreign hosts, and passes other errors through", () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(listenError(err("EACCES"), "localhost", 80).message).toMatch(/port 80 on localhost needs privileges/);
    expect(listenError(err("EADDRNOTAVAIL"), "10.9.9.9", 3000).message).toBe("HOST=10.9.9.9 is not an address of this machine");
    const other = err("EMFILE");
    expect(listenError(other, "localhost", 3000)).toBe(other);
  });
});
