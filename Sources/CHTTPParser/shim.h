#ifndef IMCTL_CHTTPPARSER_SHIM_H
#define IMCTL_CHTTPPARSER_SHIM_H

#include <http_parser.h>

// http_parser keeps these in bit-fields, which Swift imports poorly; read them here.
static inline unsigned int chttp_method(const http_parser *p) { return p->method; }
static inline unsigned int chttp_errno(const http_parser *p) { return p->http_errno; }
static inline unsigned int chttp_upgrade(const http_parser *p) { return p->upgrade; }
static inline unsigned int chttp_flags(const http_parser *p) { return p->flags; }

// `field_data` is an array of anonymous structs, which Swift imports as a tuple of opaque
// types; these read one field's offset and length. `field` must be below UF_MAX.
static inline int chttp_url_has_field(const struct http_parser_url *u, int field) {
    return (u->field_set & (1 << field)) != 0;
}
static inline unsigned int chttp_url_field_offset(const struct http_parser_url *u, int field) {
    return u->field_data[field].off;
}
static inline unsigned int chttp_url_field_length(const struct http_parser_url *u, int field) {
    return u->field_data[field].len;
}

#endif
