import type { Role, SessionUser } from "@/server/auth/roles";

/** Shown instead of a page the user's role does not cover: explains rather than pretends it is not there. */
export function Forbidden({ user, required }: { user: SessionUser; required: Role }) {
  return (
    <section className="panel" data-testid="forbidden">
      <h1 className="page-title">Not allowed</h1>
      <p>
        This page needs the <strong>{required}</strong> role. You are signed in as <strong>{user.name}</strong> ({user.role}).
      </p>
    </section>
  );
}
