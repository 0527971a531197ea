import { Forbidden } from "@/components/auth/Forbidden";
import { UsersAdmin } from "@/components/users/UsersAdmin";
import { requirePageUser } from "@/server/auth/pageAuth";
import { listUsers } from "@/server/auth/users";
import { getRuntime } from "@/server/runtime";

export const metadata = { title: "Users" };

export default async function UsersPage() {
  const access = await requirePageUser("/users", "admin");
  if (!access.allowed) return <Forbidden user={access.user} required={access.required} />;
  const users = await listUsers(getRuntime().prisma);
  return (
    <>
      <h1 className="page-title">Users</h1>
      <UsersAdmin initialUsers={users} currentUserId={access.user.id} />
    </>
  );
}
