/**
 * Waits for `work` at most `ms`: true when it settled in time. Shutdown steps use it so that
 * a source that never answers (a dead Redis retrying for minutes) cannot hold the exit.
 */
export function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  const done = work.then(
    () => true,
    () => true,
  );
  return Promise.race([done, late]).finally(() => clearTimeout(timer));
}
