import Link from "next/link";
import { SECTIONS } from "./sections";

export function SectionTiles() {
  return (
    <nav className="section-tiles" aria-label="Sections">
      {SECTIONS.map((s) =>
        s.href ? (
          <Link key={s.title} href={s.href} className="section-tile" data-testid="section-tile">
            <strong>{s.title}</strong>
            <span className="muted">{s.blurb}</span>
          </Link>
        ) : (
          <div key={s.title} className="section-tile section-tile-off" aria-disabled="true" title="Not available yet">
            <strong>{s.title}</strong>
            <span className="muted">{s.blurb} · not available yet</span>
          </div>
        ),
      )}
    </nav>
  );
}
