import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { QueryProvider } from "@/components/providers/QueryProvider";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Cohort console", template: "%s · Cohort" },
  description: "Operator console for Cohort distributed transactions",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <Link className="brand" href="/">
            Cohort
          </Link>
          <nav className="nav" aria-label="Main">
            <Link href="/">Overview</Link>
          </nav>
        </header>
        <QueryProvider>
          <main className="content">{children}</main>
        </QueryProvider>
      </body>
    </html>
  );
}
