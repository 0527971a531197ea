import type { Metadata } from "next";
import Link from "next/link";
import { unstable_rethrow } from "next/navigation";
import type { ReactNode } from "react";
import { SignOutButton } from "@/components/auth/SignOutButton";
import { CSRF_META } from "@/components/http/apiFetch";
import { SourceBanner } from "@/components/live/SourceBanner";
import { QueryProvider } from "@/components/providers/QueryProvider";
import { LiveBadge } from "@/components/shell/LiveBadge";
import { MainNav } from "@/components/shell/MainNav";
import { getSession, type Session } from "@/server/auth/sessions";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Cohort console", template: "%s · Cohort" },
  description: "Operator console for Cohort distributed transactions",
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // Pages enforce sign-in themselves (requirePageUser); the shell only shows who it is.
  let session: Session | null = null;
  try {
    session = await getSession();
  } catch (err) {
    // Next.js signals "this render is dynamic" by throwing; that must reach Next.js.
    unstable_rethrow(err);
    console.error("[layout] session lookup failed:", err);
  }
  const user = session?.user ?? null;
  return (
    <html lang="en">
      <body>
        {/* React hoists it into <head>; components/http/apiFetch.ts reads it for mutations. */}
        {session && <meta name={CSRF_META} content={session.csrfToken} />}
        <QueryProvider>
          <header className="topbar">
            <Link className="brand" href="/">
              Cohort
            </Link>
            {user && (
              <>
                <MainNav role={user.role} />
                <div className="topbar-end">
                  <LiveBadge />
                  <span className="whoami" data-testid="whoami">
                    <span>{user.name}</span>
                    <span className="role">{user.role}</span>
                  </span>
                  <SignOutButton />
                </div>
              </>
            )}
          </header>
          {/* Also without a user: when the session check fails, the banner says which source is down. */}
          <SourceBanner live={user !== null} />
          <main className="content">{children}</main>
        </QueryProvider>
      </body>
    </html>
  );
}
