"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";

function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Live data is kept fresh by socket events and explicit refetch intervals, so a
        // window refocus need not refetch everything at once.
        staleTime: 5_000,
        refetchOnWindowFocus: false,
        retry: 2,
      },
    },
  });
}

export function QueryProvider({ children }: { children: ReactNode }) {
  // One client per browser tab, created lazily: a module-level client would be shared
  // between requests during server rendering.
  const [client] = useState(createQueryClient);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}
