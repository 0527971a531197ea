import net from "node:net";

/** Asks the kernel for a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Fails, with what to do about it, when host:port cannot be listened on: checked before
 * the demo starts anything, so a taken port costs a second rather than a build and a start.
 */
export function ensurePortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", (err) => reject(listenError(err, host, port)));
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

/** A listen failure in words: which port, why, and the variable that changes it. */
export function listenError(err: Error, host: string, port: number): Error {
  switch ((err as NodeJS.ErrnoException).code) {
    case "EADDRINUSE":
      return new Error(
        `port ${port} on ${host} is in use by another program (another npm start?): stop it, or choose another port with PORT=…`,
      );
    case "EACCES":
      return new Error(`port ${port} on ${host} needs privileges: choose a port above 1023 with PORT=…`);
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new Error(`HOST=${host} is not an address of this machine`);
    default:
      return err;
  }
}
