"use client";
// User management for admins: create (the generated password is shown once, here only),
// change role, disable and enable. Every change asks for a reason and is audited; the
// server refuses an admin demoting or disabling themself, and the controls say so upfront.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ReasonDialog } from "@/components/forms/ReasonDialog";
import { apiFetch } from "@/components/http/apiFetch";
import { ROLES, type Role } from "@/server/auth/roles";
import type { UserSummary } from "@/server/auth/users";

export const USERS_KEY = ["users"] as const;

type Pending =
  | { kind: "create"; name: string; role: Role }
  | { kind: "role"; user: UserSummary; role: Role }
  | { kind: "disable" | "enable"; user: UserSummary };

const fetchUsers = async () => (await apiFetch<{ users: UserSummary[] }>("/api/users")).users;

export function UsersAdmin({ initialUsers, currentUserId }: { initialUsers: UserSummary[]; currentUserId: string }) {
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: USERS_KEY, queryFn: fetchUsers, initialData: initialUsers });
  const [pending, setPending] = useState<Pending | null>(null);
  const [newName, setNewName] = useState("");
  const [newRole, setNewRole] = useState<Role>("viewer");
  const [created, setCreated] = useState<{ name: string; password: string } | null>(null);

  const replaceUser = (user: UserSummary) =>
    queryClient.setQueryData<UserSummary[]>(USERS_KEY, (old) => old?.map((u) => (u.id === user.id ? user : u)));

  const run = async (action: Pending, reason: string) => {
    if (action.kind === "create") {
      const result = await apiFetch<{ user: UserSummary; password: string }>("/api/users", {
        method: "POST",
        body: { name: action.name, role: action.role, reason },
      });
      setCreated({ name: result.user.name, password: result.password });
      setNewName("");
      await queryClient.invalidateQueries({ queryKey: USERS_KEY });
      return;
    }
    const body = action.kind === "role" ? { role: action.role, reason } : { disabled: action.kind === "disable", reason };
    const result = await apiFetch<{ user: UserSummary }>(`/api/users/${action.user.id}`, { method: "PATCH", body });
    replaceUser(result.user);
  };

  return (
    <div className="stack">
      <section className="panel" aria-labelledby="create-user-title">
        <div className="panel-head">
          <h2 id="create-user-title">Create a user</h2>
          <span className="panel-meta muted">a random password is generated and shown once</span>
        </div>
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            setCreated(null);
            setPending({ kind: "create", name: newName.trim().toLowerCase(), role: newRole });
          }}
        >
          <label className="field">
            <span>Name</span>
            <input
              name="new-user-name"
              value={newName}
              onChange={(e) => setNewName(e.target.value)}
              autoCapitalize="none"
              spellCheck={false}
              pattern="[A-Za-z][A-Za-z0-9._\-]{1,31}"
              title="2–32 characters: a letter, then letters, digits, '.', '_' or '-'"
              required
            />
          </label>
          <label className="field">
            <span>Role</span>
            {/* aria-label: a select inside its label would otherwise be named "Role viewer". */}
            <select name="new-user-role" aria-label="Role" value={newRole} onChange={(e) => setNewRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="button" disabled={newName.trim().length < 2}>
            Create…
          </button>
        </form>
        {created && (
          <div className="secret" role="status" data-testid="created-password" style={{ marginTop: 10 }}>
            <span>
              Password for <strong>{created.name}</strong>: <code className="mono">{created.password}</code>
            </span>
            <button
              type="button"
              className="button button-quiet"
              onClick={() => void navigator.clipboard?.writeText(created.password)}
            >
              Copy
            </button>
            <span className="muted">It is not shown again.</span>
            <button type="button" className="button button-quiet" onClick={() => setCreated(null)} aria-label="Dismiss">
              ×
            </button>
          </div>
        )}
      </section>

      <section className="panel" aria-labelledby="users-title">
        <div className="panel-head">
          <h2 id="users-title">Users</h2>
          <span className="panel-meta muted">{users.data.length} in total</span>
        </div>
        {users.isError && <p className="alert">{users.error.message}</p>}
        <table className="table" data-testid="users-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Status</th>
              <th>Created</th>
              <th>Last sign-in</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => {
              const self = u.id === currentUserId;
              return (
                <tr key={u.id} data-testid={`user-row-${u.name}`}>
                  <td>
                    {u.name}
                    {self && <span className="muted"> (you)</span>}
                  </td>
                  <td>
                    <select
                      aria-label={`Role of ${u.name}`}
                      value={u.role}
                      disabled={self}
                      title={self ? "You cannot change your own role" : undefined}
                      onChange={(e) => setPending({ kind: "role", user: u, role: e.target.value as Role })}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    {u.disabled ? <span className="tag tag-bad">disabled</span> : <span className="tag tag-ok">active</span>}
                  </td>
                  <td className="muted">
                    <Time iso={u.createdAt} />
                    {u.createdBy && ` by ${u.createdBy}`}
                  </td>
                  <td className="muted">{u.lastLoginAt ? <Time iso={u.lastLoginAt} /> : "never"}</td>
                  <td>
                    {u.disabled ? (
                      <button
                        type="button"
                        className="button button-quiet"
                        onClick={() => setPending({ kind: "enable", user: u })}
                      >
                        Enable…
                      </button>
                    ) : (
                      <button
                        type="button"
                        className="button button-quiet"
                        disabled={self}
                        title={self ? "You cannot disable yourself" : undefined}
                        onClick={() => setPending({ kind: "disable", user: u })}
                      >
                        Disable…
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      {pending && (
        <ReasonDialog
          title={dialogTitle(pending)}
          confirmLabel={
            pending.kind === "create" ? "Create user" : pending.kind === "role" ? "Change role" : capitalise(pending.kind)
          }
          danger={pending.kind === "disable"}
          onConfirm={(reason) => run(pending, reason)}
          onClose={() => setPending(null)}
        >
          {pending.kind === "disable" && <p className="muted">Their sessions end at once.</p>}
          {pending.kind === "role" && <p className="muted">The new role applies to their open sessions at once.</p>}
        </ReasonDialog>
      )}
    </div>
  );
}

function dialogTitle(p: Pending): string {
  switch (p.kind) {
    case "create":
      return `Create ${p.name} as ${p.role}`;
    case "role":
      return `Change ${p.user.name} from ${p.user.role} to ${p.role}`;
    case "disable":
      return `Disable ${p.user.name}`;
    case "enable":
      return `Enable ${p.user.name}`;
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** UTC on both sides of hydration: the server's and the browser's time zones may differ. */
function Time({ iso }: { iso: string }) {
  return <time dateTime={iso}>{iso.slice(0, 16).replace("T", " ")} UTC</time>;
}
