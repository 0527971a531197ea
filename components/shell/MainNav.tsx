"use client";
// The console's sections. A section that does not exist yet can be listed in PLACEHOLDERS,
// so the shape of the console is visible; its owner turns it into a link.
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { Role } from "@/server/auth/roles";

const LINKS: { href: string; label: string; admin?: boolean }[] = [
  { href: "/", label: "Overview" },
  { href: "/transactions", label: "Transactions" },
  { href: "/in-doubt", label: "In doubt" },
  { href: "/locks", label: "Locks" },
  { href: "/queues", label: "Queues" },
  { href: "/ring", label: "Ring" },
  { href: "/audit", label: "Audit" },
  { href: "/users", label: "Users", admin: true },
];

const PLACEHOLDERS: string[] = [];

export function MainNav({ role }: { role: Role }) {
  const pathname = usePathname();
  const current = (href: string) => (href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(`${href}/`));
  return (
    <nav className="nav" aria-label="Main">
      {LINKS.filter((l) => !l.admin || role === "admin").map((l) => (
        <Link key={l.href} href={l.href} aria-current={current(l.href) ? "page" : undefined}>
          {l.label}
        </Link>
      ))}
      {PLACEHOLDERS.map((label) => (
        <span key={label} className="nav-placeholder" aria-disabled="true" title="Not available yet">
          {label}
        </span>
      ))}
    </nav>
  );
}
