// C helpers for package sphinx. cgo cannot call variadic C functions or
// expand the sphinxbase macros, so the few places that need them live here.
#ifndef CALLBRIEF_SPHINX_SHIM_H
#define CALLBRIEF_SPHINX_SHIM_H

#include <pocketsphinx.h>

// cb_install_logging routes sphinxbase's log (normally stderr) to Go:
// messages at WARN and above go to callbriefSphinxLog, the rest are dropped.
void cb_install_logging(void);

// cb_config starts a decoder configuration (cmd_ln_init is variadic).
cmd_ln_t *cb_config(const char *hmm, const char *dict);

// cb_config_set sets one more argument ("-lm", "/path"); -1 on failure.
int cb_config_set(cmd_ln_t *c, const char *name, const char *value);

// cb_frate returns the decoder's frame rate (frames per second).
int cb_frate(ps_decoder_t *ps);

// cb_prob converts a log probability in the decoder's log base to linear.
double cb_prob(ps_decoder_t *ps, int32 logp);

// Live cepstral mean normalisation state: cb_cmn_len is the vector
// length (0 if none), cb_cmn_get copies the current mean out, cb_cmn_set
// replaces it.
int cb_cmn_len(ps_decoder_t *ps);
void cb_cmn_get(ps_decoder_t *ps, float *out);
void cb_cmn_set(ps_decoder_t *ps, const float *in);

#endif
