/*
** tokenizer.h: llama2.c's tokenizer.bin (a byte-pair vocabulary with merge
** scores): encode text to token ids and decode ids to text pieces. Without a
** tokenizer, qrun maps text to one token per byte (qr_bytes_encode).
*/
#ifndef QR_TOKENIZER_H
#define QR_TOKENIZER_H

#include <stddef.h>

#include "model.h"

#define QR_BOS 1

typedef struct QrTokenizer QrTokenizer;

/* Reads tokenizer.bin for a vocabulary of `vocab` entries; every entry is
** bounds-checked against the file. */
int qr_tokenizer_open(const char *path, int vocab, QrTokenizer **out, QrErr *e);
void qr_tokenizer_free(QrTokenizer *t);

/* Encodes text with BOS first; out must hold strlen(text) + 3 ids.
** Returns the number of ids. */
int qr_tokenizer_encode(const QrTokenizer *t, const char *text, int *out);

/* The text of token `tok` following `prev` (leading space dropped after
** BOS, "<0xNN>" pieces turned into their byte). Never NULL. */
const char *qr_tokenizer_piece(const QrTokenizer *t, int prev, int tok, char buf[2]);

/* One token per byte (byte % vocab), BOS first; out holds strlen + 1. */
int qr_bytes_encode(const char *text, int vocab, int *out);

#endif
