throw new Error('msgpackr-extract is replaced by a stub in novactor; msgpackr uses its JavaScript decoder');
