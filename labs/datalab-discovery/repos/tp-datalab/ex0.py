"""Exercice 0 / Exercise 0: un premier script / a first script.

Lancez-le / run it:  python ex0.py
Puis écrivez votre propre fonction / then write a function of your own.
"""


def moyenne(valeurs):
    """Moyenne d'une liste de nombres / mean of a list of numbers."""
    if not valeurs:
        raise ValueError("liste vide / empty list")
    return sum(valeurs) / len(valeurs)


if __name__ == "__main__":
    notes = [12, 15.5, 9, 17]
    print(f"Moyenne / mean: {moyenne(notes):.2f}")
