import { expect } from '@open-wc/testing';
import { SseParser, type SseMessage } from '../../../module/api/sse.ts';

function parse(chunks: string[]): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser((m) => messages.push(m));
  for (const chunk of chunks) parser.push(chunk);
  return { messages, parser };
}

describe('SseParser', () => {
  it('parses named events with JSON data', () => {
    const { messages } = parse(['event: session.changed\ndata: {"a":1}\n\n']);
    expect(messages).to.deep.equal([{ event: 'session.changed', data: '{"a":1}', lastEventId: undefined }]);
  });

  it('defaults the event name to message and joins multi-line data with \\n', () => {
    const { messages } = parse(['data: one\ndata: two\n\n']);
    expect(messages).to.deep.equal([{ event: 'message', data: 'one\ntwo', lastEventId: undefined }]);
  });

  it('handles CRLF, CR and LF line ends, also split across chunks', () => {
    const { messages } = parse([
      'event: a\r',
      '\ndata: 1\r\n\r',
      '\nevent: b\rdata: 2\r\r',
      'data: 3\n',
      '\n',
    ]);
    expect(messages.map((m) => [m.event, m.data])).to.deep.equal([
      ['a', '1'],
      ['b', '2'],
      ['message', '3'],
    ]);
  });

  it('accepts any chunking, down to one character at a time', () => {
    const text = 'event: x\ndata: {"k":"v"}\n\n: keep-alive\n\nevent: y\ndata: 2\n\n';
    const { messages } = parse([...text]);
    expect(messages.map((m) => m.event)).to.deep.equal(['x', 'y']);
  });

  it('ignores comments, unknown fields and events without data', () => {
    const { messages } = parse([': keep-alive\n\nfoo: bar\nevent: empty\n\ndata:x\n\n']);
    expect(messages).to.deep.equal([{ event: 'message', data: 'x', lastEventId: undefined }]);
  });

  it('strips one leading space of a value only, and a leading BOM', () => {
    const { messages } = parse(['\uFEFFdata:  two spaces\n\n']);
    expect(messages[0]?.data).to.equal(' two spaces');
  });

  it('remembers id (carried to later events) and retry', () => {
    const { messages, parser } = parse(['id: 7\nretry: 2500\ndata: a\n\ndata: b\n\nretry: soon\n']);
    expect(messages.map((m) => m.lastEventId)).to.deep.equal(['7', '7']);
    expect(parser.lastEventId).to.equal('7');
    expect(parser.retryMs).to.equal(2500, 'a non-numeric retry is ignored');
  });

  it('drops an event cut off by the end of the stream', () => {
    const { messages, parser } = parse(['data: complete\n\ndata: partial\n']);
    parser.end();
    expect(messages.map((m) => m.data)).to.deep.equal(['complete']);
  });
});
