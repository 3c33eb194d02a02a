"""Termination detection of coordinator-free runs: shares of a run's credit (Mattern's credit
recovery), exact dyadic fractions, and their text form on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from distributed_resource_optimization.runtime.transport import CoordinationError

#: Largest exponent of a credit share accepted from the network (2**-EXP): a guard, far beyond
#: any run (each hop halves a share once per message sent).
MAX_CREDIT_EXPONENT = 1 << 20


@dataclass(frozen=True)
class Credit:
    """A share of a run's termination credit: ``numerator / 2**exponent``, exact.

    Only halving and adding occur, so every share is dyadic; kept normalised (odd numerator, or
    0/0), it needs no ``gcd`` (``fractions.Fraction`` spent a third of a run's time in it)."""

    numerator: int = 0
    exponent: int = 0

    @staticmethod
    def make(numerator: int, exponent: int) -> Credit:
        if numerator == 0:
            return Credit(0, 0)
        zeros = (numerator & -numerator).bit_length() - 1
        shift = min(zeros, exponent)
        return Credit(numerator >> shift, exponent - shift)

    def half(self) -> Credit:
        return Credit(self.numerator, self.exponent + 1) if self.numerator else self

    def __add__(self, other: Credit) -> Credit:
        e = max(self.exponent, other.exponent)
        return Credit.make((self.numerator << (e - self.exponent))
                           + (other.numerator << (e - other.exponent)), e)

    def __bool__(self) -> bool:
        return self.numerator != 0

    def compare_to_one(self) -> int:
        """-1, 0 or 1 as the share is below, equal to or above the whole credit."""
        whole = 1 << self.exponent
        return (self.numerator > whole) - (self.numerator < whole)

    def as_fraction(self) -> Fraction:
        return Fraction(self.numerator, 1 << self.exponent)


#: The whole credit of a run.
WHOLE_CREDIT = Credit(1, 0)


def format_credit(credit: Credit) -> str:
    """A share ``p / 2**e`` as ``"<p hex>/<e>"``."""
    return f"{credit.numerator:x}/{credit.exponent}"


def parse_credit(text: str, where: str = "credit") -> Credit:
    """Inverse of :func:`format_credit`; ``CoordinationError`` for anything but a share in
    (0, 1]."""
    num, sep, exp = text.partition("/")
    try:
        if not sep or not exp.isdigit() or int(exp) > MAX_CREDIT_EXPONENT or \
                not num or num.startswith(("-", "+", "0x", "0X")):
            raise ValueError
        value = Credit.make(int(num, 16), int(exp))
    except ValueError:
        raise CoordinationError(f"{where}: {text[:40]!r} is not a credit share") from None
    if not value or value.compare_to_one() > 0:
        raise CoordinationError(f"{where}: credit {value.as_fraction()} is outside (0, 1]")
    return value
