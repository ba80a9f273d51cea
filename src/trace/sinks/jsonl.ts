/**
 * JSON lines: one object per event, `{"seq":N,"kind":"...",...fields}`, and always a last line
 * `{"kind":"trace_end","reason":...,"truncated":...,"events":...,"dropped":...,"limit":...}`.
 * Every line is a complete JSON document, so a reader can stream it line by line.
 */
import type { TraceRecord } from '../events.js';
import { jsonString, recordFields } from './format.js';
import { FileTraceSink, type FileSinkOptions, type TraceEnd } from './sink.js';

export class JsonlSink extends FileTraceSink {
  private readonly fieldOpts: { decodePtes: boolean };

  constructor(path: string, opts: FileSinkOptions = {}) {
    super(path, opts);
    this.fieldOpts = { decodePtes: this.decodePtes };
  }

  protected header(): string {
    return '';
  }

  protected format(r: TraceRecord): string {
    return '{"seq":' + r.seq + ',' + recordFields(r, this.fieldOpts, true) + '}\n';
  }

  protected footer(end: TraceEnd): string {
    return (
      '{"kind":"trace_end","reason":' +
      jsonString(end.reason) +
      ',"truncated":' +
      end.truncated +
      ',"events":' +
      end.events +
      ',"dropped":' +
      end.dropped +
      ',"limit":' +
      jsonString(end.limit) +
      '}\n'
    );
  }
}
