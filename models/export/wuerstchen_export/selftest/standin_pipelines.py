"""Pipeline-like stand-ins for the self-test's export_real run: a toy CLIP tokenizer and the prior / decoder loaders."""
import copy
import json
import os

from ..contract import MAX_LENGTH
from .standin_layers import _Out


def _byte_symbols():
    """The byte -> unicode symbol table of byte-level BPE (printable Latin-1 bytes stand for themselves, the
    other bytes for chr(256 + n) in order)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


class _ToyTokenizer:
    """Just enough of a HF CLIP tokenizer for save_tokenizer(): a byte-level BPE vocabulary with the 512 byte
    symbols, two merges and CLIP's special ids (the self-test cannot download the real 49408-token vocabulary)."""
    bos_token_id = 49406
    eos_token_id = 49407
    pad_token_id = 49407
    model_max_length = MAX_LENGTH

    def save_pretrained(self, folder):
        symbols = _byte_symbols()
        vocab = {sym: i for i, sym in enumerate(symbols)}
        vocab.update({sym + "</w>": 256 + i for i, sym in enumerate(symbols)})
        vocab.update({"ab": 512, "ab</w>": 513, "<|startoftext|>": 49406, "<|endoftext|>": 49407})
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2 (self-test toy vocabulary)\na b\na b</w>\n")
        special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                   "unk_token": "<|endoftext|>"}
        with open(os.path.join(folder, "special_tokens_map.json"), "w", encoding="utf-8") as f:
            json.dump(special, f)
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(dict(special, model_max_length=MAX_LENGTH, do_lower_case=True, tokenizer_class="CLIPTokenizer"), f)

    def __call__(self, text, padding="max_length", max_length=MAX_LENGTH, truncation=True):
        if str(text).strip():
            raise NotImplementedError("the self-test tokenizer only encodes the empty prompt")
        ids = [self.bos_token_id, self.eos_token_id]
        return {"input_ids": ids + [self.pad_token_id] * (max_length - 2), "attention_mask": [1, 1] + [0] * (max_length - 2)}


class _StandinPipeline:
    def __init__(self, config, **components):
        self.config = config
        self.__dict__.update(components)


def _standin_loaders(nets):
    """load_prior / load_decoder returning pipeline-like objects with the diffusers attribute names."""
    scheduler = _Out(config={"s": 0.008, "scaler": 1.0})

    def load_prior(repo):
        return _StandinPipeline({"latent_mean": 42.0, "latent_std": 1.0, "resolution_multiple": 42.67},
                                tokenizer=_ToyTokenizer(), text_encoder=copy.deepcopy(nets["prior_text_encoder"]),
                                prior=copy.deepcopy(nets["prior"]), scheduler=scheduler)

    def load_decoder(repo):
        return _StandinPipeline({"latent_dim_scale": 10.67}, tokenizer=_ToyTokenizer(),
                                text_encoder=copy.deepcopy(nets["decoder_text_encoder"]),
                                decoder=copy.deepcopy(nets["decoder"]), vqgan=copy.deepcopy(nets["vqgan"]),
                                scheduler=scheduler)
    return load_prior, load_decoder
