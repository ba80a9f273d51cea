/**
 * The heap-sampling benches' link to V8's inspector in the same thread (fault-alloc-measure.ts,
 * switch-alloc.ts): a same-thread session answers synchronously, so `post` can be called from
 * inside a guest marker's callback and return the answer at once.
 */
import { Session } from 'node:inspector';

/** One node of HeapProfiler.stopSampling's tree. */
export interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export interface InspectorLink {
  post<T>(method: string, params?: object): T;
  disconnect(): void;
}

export function connectInspector(): InspectorLink {
  const session = new Session();
  session.connect();
  return {
    post<T>(method: string, params?: object): T {
      let result: T | undefined;
      let error: Error | null = null;
      session.post(method, params ?? {}, (err, r) => {
        error = err;
        result = r as T;
      });
      if (error) throw error;
      if (result === undefined) throw new Error(`${method}: no synchronous answer`);
      return result;
    },
    disconnect: () => session.disconnect(),
  };
}
