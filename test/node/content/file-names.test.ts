import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FileNameError,
  RUNTIME_FILES,
  checkFileName,
  contentDisposition,
  validateFileName,
} from '../../../backend-adapter/content/file-names.ts';

const refused = (raw: string) =>
  assert.throws(() => validateFileName(raw), FileNameError, JSON.stringify(raw));

describe('upload file names', () => {
  it('accepts plain names, also in other scripts, NFC-normalised, percent-encoded or not', () => {
    assert.equal(validateFileName('report.pdf'), 'report.pdf');
    assert.equal(validateFileName('Quarterly%20report%20(final).xlsx'), 'Quarterly report (final).xlsx');
    assert.equal(validateFileName(encodeURIComponent('Übersicht – 2026.txt')), 'Übersicht – 2026.txt');
    assert.equal(validateFileName(encodeURIComponent('資料.docx')), '資料.docx');
    assert.equal(validateFileName(encodeURIComponent('cafe\u0301.txt')), 'café.txt', 'NFC');
    assert.equal(validateFileName('100%25.txt'), '100%.txt');
    assert.equal(validateFileName('a.tar.gz'), 'a.tar.gz');
  });

  it('refuses paths and traversal, however encoded', () => {
    for (const raw of [
      '../etc/passwd',
      '..',
      '.',
      'a/b',
      '/etc/passwd',
      '%2e%2e%2fsecret',
      '..%2f..%2fx',
      'a\\b',
      '..\\..\\win.ini',
      'C:\\x',
      encodeURIComponent('/abs'),
    ]) {
      refused(raw);
    }
  });

  it('refuses control and invisible characters, NUL first of all', () => {
    for (const raw of [
      'a%00.txt',
      'a%0A.txt',
      'a%0D.txt',
      'a%1B[31m.txt',
      'a%7F',
      encodeURIComponent('a\u0085b'),
      encodeURIComponent('invoice\u202Efdp.exe'),
      encodeURIComponent('zero\u200Bwidth'),
      encodeURIComponent('line\u2028sep'),
      encodeURIComponent('\uFEFFbom'),
    ]) {
      refused(raw);
    }
  });

  it('refuses hidden-file and shell tricks, Windows pitfalls and the runtime’s own files', () => {
    for (const raw of [
      '.bashrc',
      '.ssh',
      '..hidden',
      '-rf',
      '~root',
      ' leading',
      'trailing ',
      'trailing.',
      'a:b',
      'a*b',
      'a?b',
      'a|b',
      'a"b',
      'a<b',
      'CON',
      'nul.txt',
      'Com1.log',
      'LPT9',
      ...RUNTIME_FILES,
    ]) {
      refused(encodeURIComponent(raw));
    }
    refused('');
    refused('%');
    refused('%E0%A4%A');
    refused('a'.repeat(256));
    refused(encodeURIComponent('é'.repeat(128)));
    assert.equal(validateFileName('a'.repeat(255)).length, 255);
  });

  it('never lets an accepted name leave the directory or hide (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (raw) => {
        let name: string;
        try {
          name = checkFileName(raw);
        } catch (error) {
          return error instanceof FileNameError;
        }
        const dir = '/srv/home';
        return (
          resolve(dir, name) === join(dir, name) &&
          resolve(dir, name, '..') === dir &&
          !name.startsWith('.') &&
          !/[\u0000-\u001f\u007f/\\]/.test(name) &&
          Buffer.byteLength(name) <= 255
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('makes a Content-Disposition that survives any accepted name', () => {
    assert.equal(
      contentDisposition('report.pdf'),
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
    assert.equal(
      contentDisposition('Übersicht (1).txt'),
      `attachment; filename="_bersicht (1).txt"; filename*=UTF-8''%C3%9Cbersicht%20%281%29.txt`,
    );
    assert.match(
      contentDisposition("it's 100%.txt"),
      /^attachment; filename="it's 100_.txt"; filename\*=UTF-8''it%27s%20100%25.txt$/,
    );
  });
});
