#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/cmd_ln.h>
#include <sphinxbase/logmath.h>
#include <sphinxbase/feat.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/fe.h>

#include "shim.h"
#include "_cgo_export.h"

static void cb_log(void *user_data, err_lvl_t lvl, const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	(void)user_data;
	if (lvl < ERR_WARN) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	callbriefSphinxLog((int)lvl, buf);
}

void cb_install_logging(void) {
	// Disable the FILE sink first: the decoder dumps its configuration to
	// err_get_logfp(), which must then be NULL rather than stderr.
	err_set_logfp(NULL);
	err_set_callback(cb_log, NULL);
}

cmd_ln_t *cb_config(const char *hmm, const char *dict) {
	return cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, NULL);
}

int cb_config_set(cmd_ln_t *c, const char *name, const char *value) {
	// Not strict, so that a value already present (as a default) is replaced.
	return cmd_ln_init(c, ps_args(), FALSE, name, value, NULL) == NULL ? -1 : 0;
}

int cb_frate(ps_decoder_t *ps) {
	return (int)cmd_ln_int32_r(ps_get_config(ps), "-frate");
}

double cb_prob(ps_decoder_t *ps, int32 logp) {
	return logmath_exp(ps_get_logmath(ps), logp);
}

static cmn_t *cb_cmn(ps_decoder_t *ps) {
	feat_t *f = ps_get_feat(ps);
	return f == NULL ? NULL : f->cmn_struct;
}

int cb_cmn_len(ps_decoder_t *ps) {
	cmn_t *c = cb_cmn(ps);
	return c == NULL ? 0 : c->veclen;
}

void cb_cmn_get(ps_decoder_t *ps, float *out) {
	cmn_t *c = cb_cmn(ps);
	int i;
	for (i = 0; c != NULL && i < c->veclen; i++) {
		out[i] = MFCC2FLOAT(c->cmn_mean[i]);
	}
}

void cb_cmn_set(ps_decoder_t *ps, const float *in) {
	cmn_t *c = cb_cmn(ps);
	mfcc_t v[64];
	int i;
	if (c == NULL || c->veclen > 64) {
		return;
	}
	for (i = 0; i < c->veclen; i++) {
		v[i] = FLOAT2MFCC(in[i]);
	}
	cmn_live_set(c, v);
}
