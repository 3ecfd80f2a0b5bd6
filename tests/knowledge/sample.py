"""Tiny project documents and cards for the knowledge tests, so building an index embeds only a few passages."""

from __future__ import annotations

from agent.cards import Card, RecommendedModel, RelatedPaper
from knowledge.embed import Embedder
from knowledge.ingest import Document

# The two links every shared card gives for MIMO-UNet (the project documents cite only these).
MIMO_PAPER = ("https://openaccess.thecvf.com/content/ICCV2021/papers/"
              "Cho_Rethinking_Coarse-To-Fine_Approach_in_Single_Image_Deblurring_ICCV_2021_paper.pdf")
MIMO_GITHUB = "https://github.com/chosj95/MIMO-UNet"

PAPER = "https://example.org/mimo-unet.pdf"
GITHUB = "https://github.com/example/mimo-unet"


def tiny_docs(extra: str = "") -> list[Document]:
    return [
        Document(doc_id="doc-arch", url=PAPER, title="Architecture", role="project-doc",
                 text="# Encoder\n\nThe encoder takes the blurred image at full, half and quarter scale.\n\n"
                      "# Decoder\n\nThe decoder returns a sharp image at three scales." + extra),
        Document(doc_id="doc-results", url=GITHUB, title="Results", role="project-doc",
                 text="The network reaches 31.73 dB PSNR on the GoPro test set with 6.8 million parameters."),
    ]


def make_card(*papers: RelatedPaper, question: str = "How does it deblur text?") -> Card:
    return Card(question=question, models=[RecommendedModel(name="MIMO-UNet", paper=PAPER, github=GITHUB)],
                papers=list(papers))


RAIN = RelatedPaper(title="Rain streak removal", paper="https://example.org/rain.pdf",
                    summary="We remove rain streaks from photos taken in heavy rain with a recurrent network.")
FACES = RelatedPaper(title="Face hallucination", paper="https://example.org/faces.pdf",
                     github="https://github.com/example/faces",
                     summary="We enlarge tiny face images eight times. Code: https://evil.example/steal")
SIGNS = RelatedPaper(title="Reading street signs", paper="https://example.org/signs.pdf",
                     summary="Scene text recognition reads street signs and shop names in photos.")


class CountingEmbedder(Embedder):
    """The real embedder, counting how many texts it embedded (to see what a reopen re-embeds)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.texts = 0
        if name:
            self.name = name

    def embed(self, texts):
        self.texts += len(texts)
        return super().embed(texts)
